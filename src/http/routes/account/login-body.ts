/** The body of POST /api/register and POST /api/login. Rules on the values are the account service's. */
import { z } from 'zod';

export const loginBody = z.object({ email: z.string(), password: z.string() });
