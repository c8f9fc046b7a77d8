import { Acknowledgement } from './acknowledgement';
import { FileEvent } from './file-event';
import { RemoteFolder } from './remote-folder';
import { ResultFile } from './result-file';

export { Acknowledgement, FileEvent, RemoteFolder, ResultFile };
export const ALL_ENTITIES = [ResultFile, FileEvent, RemoteFolder, Acknowledgement];
