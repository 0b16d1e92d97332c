/** The generated client code for the request on screen: one tab per language, each with a copy button. */
import { useMemo, useState } from 'react';
import { CodeBlock } from '../components/code-block';
import { generateSnippets, type ChatBody, type SnippetId } from '../snippets/generate-snippets';
import { Tabs } from './tabs';

export function SnippetTabs({ baseUrl, body }: { baseUrl: string; body: ChatBody }) {
  const snippets = useMemo(() => generateSnippets({ baseUrl, body }), [baseUrl, body]);
  const [selected, setSelected] = useState<SnippetId>('curl');
  return (
    <Tabs
      label="Client code"
      className="snippet-tabs"
      selected={selected}
      onSelect={(id) => setSelected(id as SnippetId)}
      items={snippets.map((snippet) => ({
        id: snippet.id,
        label: snippet.label,
        panel: <CodeBlock code={snippet.code.replace(/\n$/, '')} language={snippet.language} label={`${snippet.label}: ${snippet.fileName}`} />,
      }))}
    />
  );
}
