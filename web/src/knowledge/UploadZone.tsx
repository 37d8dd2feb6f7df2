import { useId, useRef, useState, type DragEvent } from 'react';
import { UploadIcon } from '../ui/icons';

/** Accepted by the ingest: PDF, Word, HTML, Markdown, CSV and plain text. */
export const ACCEPT = '.pdf,.docx,.html,.htm,.md,.markdown,.csv,.txt,application/pdf,text/*';

/** A drop zone for many files at once, with a file picker for the keyboard and touch. */
export function UploadZone({ onFiles }: { onFiles: (files: File[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const hint = useId();

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const files = [...e.dataTransfer.files];
    if (files.length > 0) onFiles(files);
  };

  return (
    <div
      className={`dropzone${over ? ' dropzone-over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={drop}
    >
      <span className="dropzone-icon" aria-hidden="true">
        <UploadIcon />
      </span>
      <div>
        <strong>Drop files here</strong> or{' '}
        <button type="button" className="btn btn-small" onClick={() => input.current?.click()} aria-describedby={hint}>
          Choose files…
        </button>
        <div id={hint} className="muted small">
          PDF, Word (.docx), HTML, Markdown, CSV or text. A file named like a document already here becomes its new version.
        </div>
      </div>
      <input
        ref={input}
        type="file"
        multiple
        accept={ACCEPT}
        className="visually-hidden"
        tabIndex={-1}
        aria-label="Add documents"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          e.target.value = '';
          if (files.length > 0) onFiles(files);
        }}
      />
    </div>
  );
}
