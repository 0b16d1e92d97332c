/** Highlighted code (prism-react-renderer) in the console's dark code box. */
import { Highlight, themes } from 'prism-react-renderer';
import { Prism } from './highlight-languages';

export function CodeBlock({ code, language, label }: { code: string; language: string; label: string }) {
  return (
    <Highlight prism={Prism} theme={themes.vsDark} code={code.replace(/\n$/, '')} language={language}>
      {({ className, style, tokens, getLineProps, getTokenProps }) => (
        // Focusable so a keyboard can scroll it; labelled so a screen reader says what it is.
        <pre className={`code ${className}`} style={{ ...style, background: undefined }} tabIndex={0} aria-label={label}>
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
  );
}
