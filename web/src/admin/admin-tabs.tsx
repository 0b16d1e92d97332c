/**
 * The operator area's tabs (WAI-ARIA tabs pattern): a tablist of buttons, arrow keys and
 * Home/End move between them, the selected tab's panel is labelled by it. The selection is
 * in the URL (`/admin?tab=prices`) so a reload or a shared link opens the same tab.
 */
import { useRef, type KeyboardEvent, type ReactNode } from 'react';

export interface TabSpec<T extends string> {
  id: T;
  label: string;
}

export function AdminTabs<T extends string>({
  tabs,
  selected,
  onSelect,
  children,
}: {
  tabs: ReadonlyArray<TabSpec<T>>;
  selected: T;
  onSelect(id: T): void;
  children: ReactNode;
}) {
  const buttons = useRef(new Map<T, HTMLButtonElement>());

  function onKeyDown(event: KeyboardEvent) {
    const index = tabs.findIndex((tab) => tab.id === selected);
    const last = tabs.length - 1;
    const target =
      event.key === 'ArrowRight' ? (index === last ? 0 : index + 1)
      : event.key === 'ArrowLeft' ? (index === 0 ? last : index - 1)
      : event.key === 'Home' ? 0
      : event.key === 'End' ? last
      : null;
    if (target === null) return;
    event.preventDefault();
    const tab = tabs[target];
    if (tab === undefined) return;
    onSelect(tab.id);
    buttons.current.get(tab.id)?.focus();
  }

  return (
    <>
      <div role="tablist" aria-label="Operator sections" className="admin-tablist" onKeyDown={onKeyDown}>
        {tabs.map((tab) => (
          <button
            key={tab.id}
            ref={(element) => {
              if (element === null) buttons.current.delete(tab.id);
              else buttons.current.set(tab.id, element);
            }}
            type="button"
            role="tab"
            id={`admin-tab-${tab.id}`}
            aria-selected={tab.id === selected}
            aria-controls={`admin-panel-${tab.id}`}
            tabIndex={tab.id === selected ? 0 : -1}
            className="admin-tab"
            onClick={() => onSelect(tab.id)}
          >
            {tab.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`admin-panel-${selected}`} aria-labelledby={`admin-tab-${selected}`} className="admin-panel" tabIndex={0}>
        {children}
      </div>
    </>
  );
}
