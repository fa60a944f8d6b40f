// Filled in by the Postgres layer: starts one embedded server for the integration test files.
export default async function setup(): Promise<void> {}
