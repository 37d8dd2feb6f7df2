import { useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import type { TenantTheme } from '../../api/types';
import { ApiProblem } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { contrastText, DEFAULT_ACCENT, isHexColor } from '../brand';
import { useBrand } from '../BrandProvider';
import { isAdmin } from '../guard';
import { LOGO_TYPES, logoFileProblem, logoUrlProblem, readAsDataUrl } from '../logo';
import { Field, fieldErrors, PageHeader, ReadOnlyNote, useAction } from '../ui';

export function Theme() {
  const me = useMe();
  const toast = useToast();
  const run = useAction();
  const brand = useBrand();
  const canEdit = isAdmin(me);
  const [name, setName] = useState(brand.theme.name);
  const [logo, setLogo] = useState<string | null>(brand.theme.logoUrl);
  const [accent, setAccent] = useState(brand.theme.accentColor);
  const [accentText, setAccentText] = useState(brand.theme.accentColor);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const file = useRef<HTMLInputElement>(null);

  const pickFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const f = e.target.files?.[0];
    e.target.value = '';
    if (!f) return;
    const problem = logoFileProblem(f);
    if (problem) {
      setErrors((x) => ({ ...x, logoUrl: problem }));
      return;
    }
    await run(async () => {
      const url = await readAsDataUrl(f);
      const late = logoUrlProblem(url);
      setErrors((x) => ({ ...x, logoUrl: late ?? '' }));
      if (!late) setLogo(url);
    }, { failed: 'Could not read the image' });
  };

  const typedAccent = (v: string) => {
    setAccentText(v);
    if (isHexColor(v)) setAccent(v.toLowerCase());
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (!name.trim()) local.name = 'Enter a name.';
    if (!isHexColor(accentText)) local.accentColor = 'Enter a colour as #rrggbb.';
    if (logo) {
      const p = logoUrlProblem(logo);
      if (p) local.logoUrl = p;
    }
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const body: TenantTheme = { name: name.trim(), logoUrl: logo, accentColor: accent };
      const saved = await admin.saveTheme(body);
      brand.setTheme(saved);
      toast.push({ kind: 'info', title: 'Theme saved', detail: 'Everyone in the workspace sees it from their next page load.' });
    } catch (err) {
      const f = fieldErrors(err);
      setErrors(f);
      if (Object.keys(f).length === 0) toast.error(err, 'Could not save the theme');
      else if (err instanceof ApiProblem && !f.name && !f.logoUrl && !f.accentColor) toast.error(err, 'Could not save the theme');
    } finally {
      setBusy(false);
    }
  };

  const err = (k: string) =>
    errors[k] ? (
      <span className="field-error" id={`theme-${k}-error`}>
        {errors[k]}
      </span>
    ) : null;

  return (
    <div className="admin-page">
      <PageHeader title="Theme" description="The workspace's name, logo and accent colour, shown to everyone in it." />
      {!canEdit && <ReadOnlyNote />}
      <div className="theme-layout">
        <form onSubmit={submit} className="card" aria-label="Theme">
          <fieldset disabled={!canEdit || busy} className="plain-fieldset">
            <Field label="Name" error={errors.name} hint="Shown in the sidebar.">
              {(p) => <input {...p} type="text" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>

            <div className="field">
              <span id="theme-logo-label" className="field-label">Logo</span>
              <div className="row">
                <input ref={file} id="theme-logo-file" type="file" accept={LOGO_TYPES.join(',')} onChange={(e) => void pickFile(e)} className="visually-hidden" tabIndex={-1} aria-label="Logo image file" />
                <button type="button" className="btn" onClick={() => file.current?.click()} aria-describedby="theme-logo-hint">
                  {logo ? 'Replace image…' : 'Upload image…'}
                </button>
                {logo && (
                  <button type="button" className="btn-ghost" onClick={() => setLogo(null)}>
                    Remove logo
                  </button>
                )}
              </div>
              <span id="theme-logo-hint" className="muted small">
                PNG, JPEG or SVG, at most 256 KiB. A square image looks best.
              </span>
              {err('logoUrl')}
            </div>

            <div className="field">
              <label htmlFor="theme-accent-text">Accent colour</label>
              <div className="row nowrap">
                <input type="color" aria-label="Choose a colour" value={accent} onChange={(e) => typedAccent(e.target.value)} className="color-swatch" />
                <input
                  id="theme-accent-text"
                  type="text"
                  className="mono"
                  value={accentText}
                  onChange={(e) => typedAccent(e.target.value.trim())}
                  maxLength={7}
                  aria-invalid={!!errors.accentColor || !isHexColor(accentText)}
                  style={{ width: '8.5em' }}
                />
                {accent !== DEFAULT_ACCENT && (
                  <button type="button" className="btn-ghost btn-small" onClick={() => typedAccent(DEFAULT_ACCENT)}>
                    Default
                  </button>
                )}
              </div>
              {err('accentColor')}
            </div>
          </fieldset>
          {canEdit && (
            <div className="modal-actions">
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save theme'}
              </button>
            </div>
          )}
        </form>

        <section className="card theme-preview" aria-label="Preview">
          <h2 className="subhead">Preview</h2>
          <div className="tenant-brand">
            {logo ? (
              <img className="tenant-logo" src={logo} alt="Logo preview" />
            ) : (
              <span className="tenant-logo tenant-initial" style={{ background: accent, color: contrastText(accent) }} aria-hidden="true">
                {name.trim().charAt(0).toUpperCase() || 'W'}
              </span>
            )}
            <span className="tenant-name">{name || 'Workspace'}</span>
          </div>
          <button type="button" className="btn btn-block preview-button" style={{ background: accent, borderColor: accent, color: contrastText(accent) }} tabIndex={-1} aria-hidden="true">
            + New chat
          </button>
          <p className="small">
            Links <span style={{ color: accent }}>look like this</span>.
          </p>
        </section>
      </div>
    </div>
  );
}
