import { useEffect } from 'react';

/** Sets the document title for a page ("Balance · moongate"), so tabs and history read well. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · moongate`;
  }, [title]);
}
