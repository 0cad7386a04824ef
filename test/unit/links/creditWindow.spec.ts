import { describe, expect, it } from 'vitest';
import { CreditWindow } from '../../../src/links/creditWindow.js';

describe('CreditWindow', () => {
  it('grants the whole capacity at first', () => {
    const w = new CreditWindow(10, 5);
    expect(w.take()).toBe(10);
    expect(w.linkCredit).toBe(10);
    expect(w.take()).toBe(0);
  });

  it('R1: never lets held plus link credit exceed the capacity', () => {
    const w = new CreditWindow(10, 5);
    w.take();
    for (let i = 0; i < 10; i++) w.delivered();
    expect([w.held, w.linkCredit, w.deficit]).toEqual([10, 0, 0]);
    expect(w.take(true)).toBe(0);
  });

  it('R2: returns credit on settlement, not on delivery', () => {
    const w = new CreditWindow(10, 5);
    w.take();
    for (let i = 0; i < 10; i++) w.delivered();
    expect(w.take()).toBe(0);
    w.settled(4);
    expect(w.take()).toBe(0); // below one batch: no flow frame yet
    w.settled(1);
    expect(w.take()).toBe(5);
    expect(w.held + w.linkCredit).toBe(10);
  });

  it.each([
    // capacity, batch, delivered, settled, force, expected grant
    [100, 50, 100, 49, false, 0],
    [100, 50, 100, 50, false, 50],
    [100, 50, 100, 1, true, 1],
    [100, 50, 30, 30, false, 0], // 70 still on the link: deficit 30 < batch
    [100, 50, 60, 60, false, 60],
    [1, 1, 1, 1, false, 1],
  ])('capacity %i batch %i: %i delivered, %i settled, force %s → grants %i', (capacity, batch, delivered, settled, force, grant) => {
    const w = new CreditWindow(capacity, batch);
    w.take();
    for (let i = 0; i < delivered; i++) w.delivered();
    w.settled(settled);
    expect(w.take(force)).toBe(grant);
  });

  it('starts over after the link credit is reset (re-attach or drain)', () => {
    const w = new CreditWindow(10, 5);
    w.take();
    for (let i = 0; i < 3; i++) w.delivered();
    w.resetLinkCredit();
    expect(w.take()).toBe(7); // 3 still held
  });

  it.each([
    [0, 1],
    [1.5, 1],
    [10, 0],
    [10, 11],
  ])('refuses capacity %s with batch %s', (capacity, batch) => {
    expect(() => new CreditWindow(capacity, batch)).toThrow(RangeError);
  });
});
