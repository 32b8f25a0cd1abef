/** A cookie-keeping HTTP client for tests that follow sign-in redirects by hand. */
export class TestClient {
  readonly cookies = new Map<string, string>();
  /** Raw Set-Cookie headers of the last response. */
  lastSetCookies: string[] = [];

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    const res = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...(this.cookies.size > 0 ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...init.headers,
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.lastSetCookies = res.headers.getSetCookie();
    for (const header of this.lastSetCookies) {
      const [pair] = header.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (!pair || index < 0) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const body = await res.text();
    const location = res.headers.get('location');
    return { status: res.status, body, location: location ? new URL(location, url).href : null };
  }

  /** Follows redirects from `url` until a page answers, returning each URL visited. */
  async follow(url: string, limit = 10) {
    const visited: string[] = [];
    let next: string | null = url;
    let last = await this.request(next);
    visited.push(next);
    while (last.location && visited.length < limit) {
      next = last.location;
      visited.push(next);
      last = await this.request(next);
    }
    return { ...last, url: next, visited };
  }
}

/** The value of `<input name="...">` in a page. */
export function inputValue(html: string, name: string): string {
  const match = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`));
  if (!match?.[1]) throw new Error(`no input ${name}`);
  return match[1].replace(/&amp;/g, '&');
}
