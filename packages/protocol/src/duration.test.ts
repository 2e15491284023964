import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';

test('durations parse from units, combinations and bare seconds', () => {
  assert.equal(parseDuration('30s'), 30);
  assert.equal(parseDuration('15m'), 900);
  assert.equal(parseDuration('8h'), 28_800);
  assert.equal(parseDuration('30d'), 2_592_000);
  assert.equal(parseDuration('1h30m'), 5_400);
  assert.equal(parseDuration('1d2h3m4s'), 93_784);
  assert.equal(parseDuration('90m'), 5_400);
  assert.equal(parseDuration('3600'), 3_600);
  assert.equal(parseDuration('600'), 600);
  assert.equal(parseDuration(' 1d12h '), 129_600);
  assert.equal(parseDuration('0'), 0);
});

test('anything else is not a duration', () => {
  for (const bad of [
    '5x',
    '',
    ' ',
    '-1h',
    '1.5h',
    '30m1h',
    '1h1h',
    'h',
    '1hh',
    '1h 30m',
    '8 hours',
    '8H',
    '1H30M',
    '+5',
    '1e3',
    '99999999999999999999d',
  ]) {
    assert.equal(parseDuration(bad), undefined, `accepted ${JSON.stringify(bad)}`);
  }
});

test('the schema pattern accepts what the parser accepts', () => {
  const pattern = new RegExp(DURATION_PATTERN, 'u');
  for (const text of ['30s', '10m', '24h', '7d', '1h30m', '1d2h3m4s', '600']) assert.match(text, pattern);
  for (const text of ['', '30m1h', '8H', '1h 30m', '-1h']) assert.doesNotMatch(text, pattern);
});

test('durations format in the compact form, the inverse of parsing', () => {
  assert.equal(formatDuration(28_800), '8h');
  assert.equal(formatDuration(5_400), '1h30m');
  assert.equal(formatDuration(30 * 86_400), '30d');
  assert.equal(formatDuration(61), '1m1s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(93_784), '1d2h3m4s');
  for (let seconds = 0; seconds < 200_000; seconds += 997) {
    assert.equal(parseDuration(formatDuration(seconds)), seconds);
  }
  for (const text of ['30s', '15m', '8h', '30d', '1h30m', '2d12h', '1d1s']) {
    assert.equal(formatDuration(parseDuration(text) ?? Number.NaN), text);
  }
});
