import { describe, expect, it } from 'vitest';
import { routeLabels } from '../../src/http/metrics.ts';

describe('route labels of the gateway metrics', () => {
  const configured = new Set(['wx-new']);

  it('name a configured route and its side', () => {
    expect(routeLabels(configured, { route: 'wx-new', variant: 'canary' })).toEqual({
      route: 'wx-new',
      variant: 'canary',
    });
    expect(routeLabels(configured, { route: 'wx-new', variant: 'stable' })).toEqual({
      route: 'wx-new',
      variant: 'stable',
    });
  });

  it("are 'none' without a route, for a route no longer configured, and for an unknown side", () => {
    expect(routeLabels(configured, { route: null, variant: null })).toEqual({
      route: 'none',
      variant: 'none',
    });
    expect(routeLabels(configured, { route: 'removed', variant: 'canary' })).toEqual({
      route: 'none',
      variant: 'none',
    });
    expect(routeLabels(configured, { route: 'wx-new', variant: 'blue' })).toEqual({
      route: 'wx-new',
      variant: 'none',
    });
  });
});
