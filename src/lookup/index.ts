/** The lookup HTTP API: public surface of src/lookup. */
export { startLookupServer, type LookupServer, type LookupSources, type KeyLookup } from './lookup-server.ts';
