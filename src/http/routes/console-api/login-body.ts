/** The body of POST /api/register and POST /api/login. Rules on the values are the account service's. */
import { z } from 'zod';

export const loginBody = z.object({ email: z.string(), password: z.string() });

/** Register also takes the setup link's token (accounts/setup-link.ts): the operator's registration. */
export const registerBody = loginBody.extend({ setupToken: z.string().max(100).optional() });
