import { WebUpload } from './web-upload';
import { Alert, AlertDelivery } from './alert';
import { FileEvent } from './file-event';
import { FileHandover } from './file-handover';
import { Lab, UploadHost } from './lab';
import { ForeignFetch, Receipt, UnknownFetch } from './fetches';
import { LogCursor, LogScanRun } from './log-scan';
import { FolderChange, FolderReceiptRule, RemoteFolder } from '../../remote-folders/entities';
import { ResultFile } from './result-file';
import { SecurityEvent } from './security-event';
import { LoginFailure, WebSession } from './session';
import { User } from './user';

export { Alert, AlertDelivery, FileEvent, FileHandover, FolderChange, FolderReceiptRule, ForeignFetch, Lab, LogCursor, LogScanRun, LoginFailure, Receipt, RemoteFolder, ResultFile, SecurityEvent, UnknownFetch, UploadHost, User, WebSession, WebUpload };
export const ALL_ENTITIES = [ResultFile, FileEvent, RemoteFolder, Receipt, UnknownFetch, User, WebSession, LoginFailure, WebUpload, LogCursor, LogScanRun, FolderReceiptRule, ForeignFetch, SecurityEvent, FolderChange, Lab, UploadHost, FileHandover, Alert, AlertDelivery];
