import { useEffect, useState } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'penny.theme';

function read(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

/** The theme: follows prefers-color-scheme unless the user picked one. */
export function useTheme(): [ThemeChoice, () => void] {
  const [choice, setChoice] = useState<ThemeChoice>(read);
  useEffect(() => {
    document.documentElement.dataset.theme = choice;
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  }, [choice]);
  const cycle = () => setChoice((c) => (c === 'system' ? 'dark' : c === 'dark' ? 'light' : 'system'));
  return [choice, cycle];
}
