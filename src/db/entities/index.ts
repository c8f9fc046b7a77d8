import { WebUpload } from './web-upload';
import { Acknowledgement } from './acknowledgement';
import { FileEvent } from './file-event';
import { LogCursor, LogScanRun } from './log-scan';
import { RemoteFolder } from './remote-folder';
import { ResultFile } from './result-file';
import { LoginFailure, WebSession } from './session';
import { User } from './user';

export { Acknowledgement, FileEvent, LogCursor, LogScanRun, LoginFailure, RemoteFolder, ResultFile, User, WebSession, WebUpload };
export const ALL_ENTITIES = [ResultFile, FileEvent, RemoteFolder, Acknowledgement, User, WebSession, LoginFailure, WebUpload, LogCursor, LogScanRun];
