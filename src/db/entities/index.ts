import { WebUpload } from './web-upload';
import { Acknowledgement } from './acknowledgement';
import { Alert, AlertDelivery } from './alert';
import { FileEvent } from './file-event';
import { FileHandover } from './file-handover';
import { Lab, UploadHost } from './lab';
import { ForeignAccess } from './foreign-access';
import { LogCursor, LogScanRun } from './log-scan';
import { FolderChange, FolderReceiptRule, RemoteFolder } from '../../remote-folders/entities';
import { ResultFile } from './result-file';
import { SecurityEvent } from './security-event';
import { LoginFailure, WebSession } from './session';
import { User } from './user';

export { Acknowledgement, Alert, AlertDelivery, FileEvent, FileHandover, FolderChange, FolderReceiptRule, ForeignAccess, Lab, LogCursor, LogScanRun, LoginFailure, RemoteFolder, ResultFile, SecurityEvent, UploadHost, User, WebSession, WebUpload };
export const ALL_ENTITIES = [ResultFile, FileEvent, RemoteFolder, Acknowledgement, User, WebSession, LoginFailure, WebUpload, LogCursor, LogScanRun, FolderReceiptRule, ForeignAccess, SecurityEvent, FolderChange, Lab, UploadHost, FileHandover, Alert, AlertDelivery];
