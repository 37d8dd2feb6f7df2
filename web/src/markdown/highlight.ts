// highlight.js core with a handful of languages, in its own chunk: loaded on the first code block.
import type { HLJSApi } from 'highlight.js';

let loading: Promise<HLJSApi> | null = null;

export function loadHighlighter(): Promise<HLJSApi> {
  loading ??= (async () => {
    const [core, py, js, ts, json, bash, sql, xml, css, md, yaml, rust, go] = await Promise.all([
      import('highlight.js/lib/core'),
      import('highlight.js/lib/languages/python'),
      import('highlight.js/lib/languages/javascript'),
      import('highlight.js/lib/languages/typescript'),
      import('highlight.js/lib/languages/json'),
      import('highlight.js/lib/languages/bash'),
      import('highlight.js/lib/languages/sql'),
      import('highlight.js/lib/languages/xml'),
      import('highlight.js/lib/languages/css'),
      import('highlight.js/lib/languages/markdown'),
      import('highlight.js/lib/languages/yaml'),
      import('highlight.js/lib/languages/rust'),
      import('highlight.js/lib/languages/go'),
    ]);
    const hljs = core.default;
    const langs = { python: py, javascript: js, typescript: ts, json, bash, sql, xml, css, markdown: md, yaml, rust, go };
    for (const [name, mod] of Object.entries(langs)) hljs.registerLanguage(name, mod.default);
    hljs.registerAliases(['py'], { languageName: 'python' });
    hljs.registerAliases(['js', 'jsx'], { languageName: 'javascript' });
    hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
    hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' });
    hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
    hljs.registerAliases(['md'], { languageName: 'markdown' });
    hljs.registerAliases(['yml'], { languageName: 'yaml' });
    hljs.registerAliases(['rs'], { languageName: 'rust' });
    return hljs;
  })();
  return loading;
}
