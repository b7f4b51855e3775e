export * from './backend-unavailable-error';
export * from './no-backend-available-error';
export * from './registry';
export * from './tfjs-backend';
export * from './unknown-backend-error';
