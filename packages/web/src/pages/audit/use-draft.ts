// A text filter that commits after a pause in typing (or at once on Enter or blur), and follows the
// committed value when something else changes it (a drill-down, "Clear filters").
import { useDebouncedCallback } from '@mantine/hooks';
import { useEffect, useRef, useState } from 'react';

export function useDraft(value: string, commit: (value: string) => void, delay = 400) {
  const [draft, setDraft] = useState(value);
  const committed = useRef(value);
  const debounced = useDebouncedCallback((v: string) => {
    committed.current = v;
    commit(v);
  }, delay);

  useEffect(() => {
    if (value !== committed.current) {
      committed.current = value;
      debounced.cancel();
      setDraft(value);
    }
  }, [value, debounced]);

  return {
    draft,
    change(v: string) {
      setDraft(v);
      debounced(v);
    },
    flush() {
      debounced.cancel();
      if (draft !== committed.current) {
        committed.current = draft;
        commit(draft);
      }
    },
  };
}
