/**
 * The API page's reference: GET /openapi.json (the server's own description of its public
 * API, generated from the schemas it validates with) as a readable list of operations and
 * schemas. Plain HTML: each operation with its answers, each schema with its fields.
 */
import { useEffect, useState } from 'react';
import { ErrorAlert } from './error-alert';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  minimum?: number;
  maximum?: number;
}

interface Operation {
  summary?: string;
  description?: string;
  responses: Record<string, { description: string }>;
}

interface OpenApiDocument {
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

export function ApiReference() {
  const [document, setDocument] = useState<OpenApiDocument | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    fetch('/openapi.json', { headers: { accept: 'application/json' } })
      .then(async (response) => {
        if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}.`);
        return (await response.json()) as OpenApiDocument;
      })
      .then(
        (loaded) => live && setDocument(loaded),
        (caught: unknown) => live && setError(caught),
      );
    return () => {
      live = false;
    };
  }, []);

  return (
    <section className="card api-reference" aria-labelledby="reference-heading">
      <h2 id="reference-heading">Reference</h2>
      <p className="muted">
        Generated from the schemas the server validates with. The machine-readable form is{' '}
        <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
      </p>
      <ErrorAlert error={error} title="The reference could not be loaded." />
      {document === null ? null : (
        <>
          <h3>Operations</h3>
          <ul className="api-operations">
            {Object.entries(document.paths).flatMap(([path, methods]) =>
              Object.entries(methods).map(([method, operation]) => (
                <li key={`${method} ${path}`} className="api-operation">
                  <p>
                    <span className="badge">{method.toUpperCase()}</span> <code>{path}</code> {operation.summary}
                  </p>
                  <details>
                    <summary>Answers</summary>
                    <dl className="api-answers">
                      {Object.entries(operation.responses).map(([status, response]) => (
                        <div key={status}>
                          <dt>
                            <code>{status}</code>
                          </dt>
                          <dd>{response.description}</dd>
                        </div>
                      ))}
                    </dl>
                  </details>
                </li>
              )),
            )}
          </ul>
          <h3>Schemas</h3>
          {Object.entries(document.components.schemas).map(([name, schema]) => (
            <details key={name} className="api-schema">
              <summary>
                <code>{name}</code> {schema.description === undefined ? null : <span className="muted">{schema.description}</span>}
              </summary>
              <SchemaFields schema={schema} />
            </details>
          ))}
        </>
      )}
    </section>
  );
}

/** A schema's fields as nested lists: name, type, required, and what it says. Depth is the schema's own (finite). */
function SchemaFields({ schema }: { schema: JsonSchema }) {
  const object = schema.properties === undefined && schema.items?.properties !== undefined ? schema.items : schema;
  if (object.properties === undefined) return null;
  const required = new Set(object.required ?? []);
  return (
    <ul className="api-fields">
      {Object.entries(object.properties).map(([field, value]) => (
        <li key={field}>
          <code>{field}</code> <span className="muted">{typeText(value)}</span>
          {required.has(field) ? <span className="badge">required</span> : null}
          {value.description === undefined ? null : <span> {value.description}</span>}
          <SchemaFields schema={value} />
        </li>
      ))}
    </ul>
  );
}

function typeText(schema: JsonSchema): string {
  if (schema.$ref !== undefined) return schema.$ref.split('/').pop() ?? schema.$ref;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return alternatives.map(typeText).join(' | ');
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'any');
  if (type === 'array' && schema.items !== undefined) return `array of ${typeText(schema.items)}`;
  const range = [schema.minimum === undefined ? null : `≥ ${schema.minimum}`, schema.maximum === undefined ? null : `≤ ${schema.maximum}`].filter(Boolean);
  return range.length === 0 ? type : `${type} (${range.join(', ')})`;
}
