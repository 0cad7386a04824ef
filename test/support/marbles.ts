// The only file that knows about rxjs-marbles: marble tests use vitest's expect through it.
import { configure } from 'rxjs-marbles';
import { expect } from 'vitest';

export const { marbles } = configure({
  assertDeepEqual: (actual, expected) => expect(actual).toEqual(expected),
  frameworkMatcher: true,
});
