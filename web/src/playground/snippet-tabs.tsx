/** The generated client code for the request on screen: one tab per language, each with a copy button. */
import { useMemo, useState } from 'react';
import { API_KEY_VARIABLE, generateSnippets, type ChatBody, type SnippetId } from '../snippets/generate-snippets';
import { CodeBlock } from './code-block';
import { CopyButton } from './copy-button';
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
        panel: (
          <>
            <div className="snippet-bar">
              <span className="muted">
                <code>{snippet.fileName}</code> · token from <code>{API_KEY_VARIABLE}</code>
              </span>
              <CopyButton text={snippet.code} label={`Copy the ${snippet.label} code`} />
            </div>
            <CodeBlock code={snippet.code} language={snippet.language} label={`${snippet.label} code`} />
          </>
        ),
      }))}
    />
  );
}
