/** What the console API says about a logged-in person: never the password hash or a session id. */
import type { PersonRole } from '../../../store/database.js';

export interface PersonView {
  id: string;
  email: string;
  role: PersonRole;
}

export function personView(person: { id: string; email: string; role: PersonRole }): PersonView {
  return { id: person.id, email: person.email, role: person.role };
}
