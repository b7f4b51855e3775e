console.log('lstm: not yet');
