import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { ALERT_SCHEDULE_ID, LOG_SCAN_SCHEDULE_ID } from '../workflows/names';
import { log, withWorkflows } from './runtime';
import { alertChannelsShown } from './process-parts';

async function commandSchedule(): Promise<void> {
  const config = loadConfig();
  await withWorkflows(config, 'getresults schedule', async (workflows) => {
    if (config.accessLog.location) {
      const outcome = await workflows.ensureLogScanSchedule(config.accessLog.scanInterval);
      log(`Schedule ${LOG_SCAN_SCHEDULE_ID} ${outcome}: scans ${config.accessLog.location} every ${config.accessLog.scanInterval} (overlaps skipped).`);
    } else {
      log(`GETRESULTS_ACCESS_LOG is not set: no receipt scan scheduled (${LOG_SCAN_SCHEDULE_ID}).`);
    }
    const alerts = await workflows.ensureAlertSchedule(config.alerts.interval);
    log(`Schedule ${ALERT_SCHEDULE_ID} ${alerts}: looks for what needs a person every ${config.alerts.interval} (${alertChannelsShown(config)}).`);
  });
}


/** `getresults schedule`: the Temporal Schedules (receipt scan, alert sweep). */
export function registerScheduleCommand(program: Command): void {
  program
    .command('schedule')
    .description('Create or update the Temporal Schedules: the scan of server B\'s access log for proof of receipt (when GETRESULTS_ACCESS_LOG is set) and the alert sweep. Needs TEMPORAL_ADDRESS.')
    .action(commandSchedule);
}
