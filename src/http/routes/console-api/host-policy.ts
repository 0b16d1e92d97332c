/**
 * Which hosts the console API answers to, against DNS rebinding (issue 15, item 11). A
 * rebinding page at http://evil.example:8700 whose name now resolves to 127.0.0.1 sends
 * `Host: evil.example:8700` and `Origin: http://evil.example:8700`: they match each other,
 * so comparing Origin with Host alone lets it in. What it cannot send is a host this server
 * knows as its own. So a console request must name, in `Host`:
 *
 * - the host of PUBLIC_URL, when it is set (the name people reach moongate by), or
 * - `localhost` or an IP address (v4, or v6 in brackets), on any port: a page can only
 *   have such an origin if it was served from that address, so no rebinding is involved;
 *
 * and its `Origin`, when the browser sends one, must be exactly PUBLIC_URL's origin, or, for
 * a request to localhost or an IP address, the request's own scheme, host and port (the
 * scheme counts: http:// is not https://).
 */
import { isIP } from 'node:net';

export class HostPolicy {
  readonly #publicUrl: URL | undefined;

  constructor(publicUrl?: string) {
    this.#publicUrl = publicUrl === undefined ? undefined : new URL(publicUrl);
  }

  /** `host` is a Host header value (name and optional port). */
  allowsHost(host: string): boolean {
    const lowered = host.toLowerCase();
    if (this.#publicUrl !== undefined && lowered === this.#publicUrl.host) return true;
    let hostname: string;
    try {
      hostname = new URL(`http://${lowered}`).hostname;
    } catch {
      return false;
    }
    if (hostname === 'localhost') return true;
    const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    return isIP(bare) !== 0;
  }

  /** `origin` is an Origin header value; `protocol` and `host` are the request's own. */
  allowsOrigin(origin: string, protocol: string, host: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, some redirects) and garbage
    }
    if (this.#publicUrl !== undefined) {
      if (parsed.origin === this.#publicUrl.origin) return true;
      // Reached by its public name, only the public origin will do (not its http:// twin).
      if (host.toLowerCase() === this.#publicUrl.host) return false;
    }
    return this.allowsHost(host) && parsed.protocol === `${protocol}:` && parsed.host === host.toLowerCase();
  }
}
