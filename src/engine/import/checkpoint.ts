/**
 * The seam between reading a checkpoint file and assembling a bundle from it. Readers (PyTorch zip `.pth`,
 * `.safetensors`) implement `CheckpointReader`; the assembler only ever sees this interface, so it never holds
 * more than one tensor at a time (peak memory ≈ the largest tensor, not the checkpoint).
 */

/** Element types a VAR/VQVAE state dict uses. Floats are widened to float32 on read. */
export type CheckpointDType = 'float32' | 'float16' | 'bfloat16' | 'int64';

export interface CheckpointTensorInfo {
  key: string;
  dtype: CheckpointDType;
  shape: number[];
}

export interface CheckpointReader {
  /** The file's name, for messages. */
  readonly file: string;
  readonly format: 'pth' | 'safetensors';
  /** Every tensor key, in the file's own order. */
  keys(): string[];
  /** Throws ImportError('missing-key') naming the key when it is absent. */
  info(key: string): CheckpointTensorInfo;
  /** The tensor's elements as float32, row-major (float16/bfloat16 widened exactly). */
  readFloat32(key: string): Promise<Float32Array>;
  /** An int64 tensor's elements (e.g. the official `lvl_1L` buffer). */
  readInt64(key: string): Promise<BigInt64Array>;
  close(): Promise<void>;
}

/** A checkpoint or import that cannot be used: names the file, the key and expected vs found where it can. */
export class ImportError extends Error {
  override readonly name = 'ImportError';
  constructor(
    readonly code: string,
    message: string,
    readonly file?: string,
    readonly key?: string,
  ) {
    super(message);
  }
}
