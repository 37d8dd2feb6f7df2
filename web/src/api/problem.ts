/** An `application/problem+json` error from the API (or a network failure shaped like one). */
export interface FieldError {
  field: string;
  message: string;
}

export class ApiProblem extends Error {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly errors: FieldError[];

  constructor(p: {
    type?: string;
    title: string;
    status: number;
    detail?: string;
    code?: string;
    errors?: FieldError[];
  }) {
    super(p.detail && p.detail !== p.title ? `${p.title}: ${p.detail}` : p.title);
    this.name = 'ApiProblem';
    this.type = p.type ?? 'about:blank';
    this.title = p.title;
    this.status = p.status;
    this.detail = p.detail ?? '';
    this.code = p.code ?? 'unknown';
    this.errors = p.errors ?? [];
  }

  static network(err: unknown): ApiProblem {
    return new ApiProblem({
      title: 'Network error',
      status: 0,
      detail: err instanceof Error ? err.message : String(err),
      code: 'network',
    });
  }

  /** Reads a failed response: problem+json when the server sent it, else status text. */
  static async fromResponse(res: Response): Promise<ApiProblem> {
    const text = await res.text().catch(() => '');
    try {
      const body = JSON.parse(text) as Partial<ApiProblem> & { title?: string };
      if (body && typeof body === 'object' && typeof body.title === 'string') {
        return new ApiProblem({
          type: body.type,
          title: body.title,
          status: typeof body.status === 'number' ? body.status : res.status,
          detail: body.detail,
          code: body.code,
          errors: Array.isArray(body.errors) ? body.errors : undefined,
        });
      }
    } catch {
      // not JSON
    }
    return new ApiProblem({
      title: res.statusText || `HTTP ${res.status}`,
      status: res.status,
      detail: text.slice(0, 300),
      code: `http_${res.status}`,
    });
  }
}

export function isApiProblem(e: unknown): e is ApiProblem {
  return e instanceof ApiProblem;
}
