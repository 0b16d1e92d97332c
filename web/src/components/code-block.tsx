/** A highlighted, copyable code sample (prism-react-renderer), scrolling inside itself on narrow screens. */
import { Highlight, themes } from 'prism-react-renderer';
import { CopyButton } from './copy-button';
import './prism-languages';

export function CodeBlock({ code, language, label }: { code: string; language: string; label: string }) {
  return (
    <figure className="code-block">
      <figcaption className="row">
        <span>{label}</span>
        <span className="spacer" />
        <CopyButton text={code} label="Copy" />
      </figcaption>
      <Highlight code={code} language={language} theme={themes.vsDark}>
        {({ className, style, tokens, getLineProps, getTokenProps }) => (
          <pre className={`code ${className}`} style={style} tabIndex={0} aria-label={label}>
            {tokens.map((line, i) => (
              <div key={i} {...getLineProps({ line })}>
                {line.map((token, key) => (
                  <span key={key} {...getTokenProps({ token })} />
                ))}
              </div>
            ))}
          </pre>
        )}
      </Highlight>
    </figure>
  );
}
