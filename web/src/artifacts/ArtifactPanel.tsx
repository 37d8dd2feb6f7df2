import { useEffect, useState } from 'react';
import { api } from '../api';
import type { Artifact } from '../api/types';
import { saveBlob } from '../ui/download';
import { useToast } from '../ui/toast';
import { ArtifactBody, formatSize, isTextual, type Content } from './renderers';

interface Props {
  artifacts: Artifact[];
  selected: string | null;
  onSelect: (id: string) => void;
  onClose: () => void;
}

function prefersDark(): boolean {
  const t = document.documentElement.dataset.theme;
  if (t === 'dark') return true;
  if (t === 'light') return false;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

/** The artifact beside the chat: pick one and a version, see it rendered, download it. */
export function ArtifactPanel({ artifacts, selected, onSelect, onClose }: Props) {
  const toast = useToast();
  const [detail, setDetail] = useState<Artifact | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [content, setContent] = useState<Content | null>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    setDetail(null);
    setVersion(null);
    setContent(null);
    if (!selected) return;
    let gone = false;
    api.artifact(selected).then(
      (a) => {
        if (gone) return;
        setDetail(a);
        setVersion(a.latestVersion);
      },
      (e) => toast.error(e, 'Could not open the artifact'),
    );
    return () => {
      gone = true;
    };
    // the latest version may change as artifacts arrive
  }, [selected, artifacts, toast]);

  useEffect(() => {
    if (!detail || version === null) return;
    let gone = false;
    setLoading(true);
    const mime = detail.versions?.find((v) => v.version === version)?.mime ?? 'application/octet-stream';
    api
      .artifactContent(detail.id, version)
      .then(async (blob) => {
        const type = blob.type || mime;
        const text = isTextual(detail.type, type) ? await blob.text() : null;
        if (!gone) setContent({ blob, text, mime: mime || type });
      })
      .catch((e) => toast.error(e, 'Could not load the artifact'))
      .finally(() => !gone && setLoading(false));
    return () => {
      gone = true;
    };
  }, [detail, version, toast]);

  const current = detail?.versions?.find((v) => v.version === version);

  return (
    <aside className="panel" aria-label="Artifact">
      <div className="panel-header">
        <label className="inline-field grow">
          <span className="visually-hidden">Artifact</span>
          <select value={selected ?? ''} onChange={(e) => onSelect(e.target.value)} aria-label="Artifact">
            {!selected && <option value="">No artifact</option>}
            {artifacts.map((a) => (
              <option key={a.id} value={a.id}>
                {a.title} · {a.type}
              </option>
            ))}
          </select>
        </label>
        {detail && (detail.versions?.length ?? 0) > 1 && (
          <label className="inline-field">
            <span className="visually-hidden">Version</span>
            <select value={version ?? ''} onChange={(e) => setVersion(Number(e.target.value))} aria-label="Version">
              {[...(detail.versions ?? [])].reverse().map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
        )}
        <button
          type="button"
          className="btn-ghost btn-small"
          disabled={!content || !detail}
          onClick={() => content && detail && saveBlob(content.blob, detail.title)}
        >
          Download
        </button>
        <button type="button" className="btn-ghost btn-icon" aria-label="Close the artifact panel" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="panel-body">
        {!selected && <p className="muted">Artifacts the model makes (charts, tables, documents…) appear here.</p>}
        {detail && (
          <div className="panel-meta muted small">
            {detail.type} · v{version}
            {current ? ` · ${current.mime} · ${formatSize(current.size)}` : ''}
          </div>
        )}
        {loading && !content && <p className="muted">Loading…</p>}
        {content && detail && <ArtifactBody type={detail.type} title={detail.title} content={content} dark={prefersDark()} />}
      </div>
    </aside>
  );
}
