/** Thrown inside the step loop when a stop (checkpoint and leave the job running) or a cancel was asked for. */
export class StopRequested extends Error {
  override readonly name = 'StopRequested';
  constructor(readonly cancel: boolean) {
    super(cancel ? 'cancel requested' : 'stop requested');
  }
}
