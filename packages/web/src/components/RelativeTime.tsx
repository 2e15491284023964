import { Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { isoTime, relativeTime } from '../lib/time.js';

/** "5 min ago", with the ISO time as its title; re-rendered every 15 s so it stays true. */
export function RelativeTime({ value }: { value: string | number | null | undefined }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(id);
  }, []);
  const iso = isoTime(value);
  return (
    <Text span size="sm" title={iso || undefined}>
      {relativeTime(value, now)}
    </Text>
  );
}
