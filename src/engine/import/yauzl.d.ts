// The part of yauzl 3.x (a CommonJS zip reader without bundled types) that the .pth reader uses.
declare module 'yauzl' {
  import type { EventEmitter } from 'node:events';

  export interface Entry {
    fileName: string;
    compressionMethod: number;
    compressedSize: number;
    uncompressedSize: number;
    relativeOffsetOfLocalHeader: number;
    isEncrypted(): boolean;
  }

  export interface ZipFile extends EventEmitter {
    entryCount: number;
    readEntry(): void;
    close(): void;
    readLocalFileHeader(entry: Entry, options: { minimal: true }, callback: (err: Error | null, header: { fileDataStart: number }) => void): void;
  }

  export interface Options {
    lazyEntries?: boolean;
    autoClose?: boolean;
    decodeStrings?: boolean;
    validateEntrySizes?: boolean;
    strictFileNames?: boolean;
  }

  /** Random access for yauzl; its default close() does nothing. */
  export class RandomAccessReader extends EventEmitter {
    _readStreamForRange(start: number, end: number): NodeJS.ReadableStream;
    read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void;
    close(callback: (err?: Error | null) => void): void;
  }

  export function fromRandomAccessReader(reader: RandomAccessReader, totalSize: number, options: Options,
    callback: (err: Error | null, zip: ZipFile) => void): void;
}
