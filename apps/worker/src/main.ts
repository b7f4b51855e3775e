console.log('lstm-worker: not yet');
