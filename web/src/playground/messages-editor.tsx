/**
 * The request's messages: role and content for each, added and removed freely. A user
 * message may carry one image, read in the browser as a data URI (moongate takes images only
 * inline or as public https URLs, docs/requests.md); offered only for models that take images.
 */
import { useState } from 'react';

import { MAX_IMAGE_BYTES, type AttachedImage, type EditableMessage, type Role } from './wire-message';

const IMAGE_TYPES = 'image/png,image/jpeg,image/webp,image/gif';

export { MAX_IMAGE_BYTES, wireMessage, type AttachedImage, type EditableMessage, type Role } from './wire-message';

function readDataUri(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(file);
  });
}

function ImageAttachment({ index, message, onChange }: { index: number; message: EditableMessage; onChange: (image: AttachedImage | undefined) => void }) {
  const [error, setError] = useState<string | null>(null);
  if (message.image !== undefined) {
    return (
      <div className="pg-image">
        <img src={message.image.dataUri} alt={`Attached to message ${index + 1}: ${message.image.name}`} />
        <span className="muted">{message.image.name}</span>
        <button type="button" className="small secondary" onClick={() => onChange(undefined)}>
          Remove image
        </button>
      </div>
    );
  }
  return (
    <div className="pg-image">
      <label className="small">
        Attach an image{' '}
        <input
          type="file"
          accept={IMAGE_TYPES}
          aria-label={`Attach an image to message ${index + 1}`}
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = '';
            if (file === undefined) return;
            if (file.size > MAX_IMAGE_BYTES) {
              setError('Images may be at most 10 MiB.');
              return;
            }
            setError(null);
            readDataUri(file).then(
              (dataUri) => onChange({ name: file.name, dataUri }),
              () => setError('The file could not be read.'),
            );
          }}
        />
      </label>
      {error === null ? null : <p className="pg-field-error">{error}</p>}
    </div>
  );
}

const ROLES: Role[] = ['system', 'user', 'assistant'];

let nextKey = 1;
export function newMessage(role: Role, content = ''): EditableMessage {
  return { key: nextKey++, role, content };
}

export function MessagesEditor({
  messages,
  onChange,
  acceptsImages = false,
}: {
  messages: EditableMessage[];
  onChange: (messages: EditableMessage[]) => void;
  /** The selected model takes images: user messages offer an attachment. */
  acceptsImages?: boolean;
}) {
  const update = (key: number, patch: Partial<EditableMessage>) =>
    onChange(messages.map((message) => (message.key === key ? { ...message, ...patch } : message)));
  const last = messages[messages.length - 1];
  return (
    <fieldset className="pg-messages">
      <legend>Messages</legend>
      <ol>
        {messages.map((message, index) => (
          <li key={message.key} className={`pg-message role-${message.role}`}>
            <div className="pg-message-head">
              <span className="pg-message-number" aria-hidden="true">
                {index + 1}
              </span>
              <select
                aria-label={`Role of message ${index + 1}`}
                value={message.role}
                onChange={(event) => update(message.key, { role: event.target.value as Role })}
              >
                {ROLES.map((role) => (
                  <option key={role} value={role}>
                    {role}
                  </option>
                ))}
              </select>
              <span className="spacer" />
              <button
                type="button"
                className="small danger"
                aria-label={`Remove message ${index + 1}`}
                disabled={messages.length === 1}
                onClick={() => onChange(messages.filter((m) => m.key !== message.key))}
              >
                Remove
              </button>
            </div>
            <textarea
              aria-label={`Content of message ${index + 1}`}
              value={message.content}
              rows={message.role === 'system' ? 2 : 3}
              onChange={(event) => update(message.key, { content: event.target.value })}
            />
            {acceptsImages && message.role === 'user' ? (
              <ImageAttachment index={index} message={message} onChange={(image) => update(message.key, { image })} />
            ) : null}
          </li>
        ))}
      </ol>
      <button
        type="button"
        className="small secondary"
        onClick={() => onChange([...messages, newMessage(last?.role === 'user' ? 'assistant' : 'user')])}
      >
        + Add message
      </button>
    </fieldset>
  );
}
