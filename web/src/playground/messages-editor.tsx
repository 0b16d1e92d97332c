/** The request's messages: role and content for each, added and removed freely. */
export type Role = 'system' | 'user' | 'assistant';

export interface EditableMessage {
  /** A stable key for React; not sent. */
  key: number;
  role: Role;
  content: string;
}

const ROLES: Role[] = ['system', 'user', 'assistant'];

let nextKey = 1;
export function newMessage(role: Role, content = ''): EditableMessage {
  return { key: nextKey++, role, content };
}

export function MessagesEditor({ messages, onChange }: { messages: EditableMessage[]; onChange: (messages: EditableMessage[]) => void }) {
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
