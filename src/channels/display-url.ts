/**
 * A base URL fit for output: `http://user:secret@vllm:8000/v1` would print a password, so
 * user info and the query string (some gateways take `?key=`) are masked.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.password !== '') {
      parsed.username = '***';
      parsed.password = '';
    }
    if (parsed.search !== '') parsed.search = '?***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
