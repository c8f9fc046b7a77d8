// The workflow bundle's entry point: every workflow the worker serves, and nothing else.
export { distributeFile } from './distribute-file';
export { scanAccessLog } from './scan-access-log';
export { resendFile } from './resend-file';
export { distributeFileV2, distributeFileV3, distributeFileV4 } from './distribute-file-v2';
export { withdrawFile } from './withdraw-file';
export { fetchArchivedPdf, placeWebUpload } from './host-handover';
export { sweepAlerts } from './sweep-alerts';
