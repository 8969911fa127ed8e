/** The one error type of `src/weights/`: a checkpoint that cannot be read or does not fit the model. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
