/** aKey lives in the test kit (test/kit/keys.ts); the unit tests that import it from here keep working. */
export { aKey } from '../kit/keys.ts';
