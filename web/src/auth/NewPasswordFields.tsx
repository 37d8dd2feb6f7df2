/** Shortest password the server accepts. */
export const MIN_PASSWORD = 8;

interface Props {
  /** Prefix of the inputs' ids (`<prefix>-password`, `<prefix>-confirm`). */
  idPrefix: string;
  password: string;
  confirm: string;
  onPassword: (v: string) => void;
  onConfirm: (v: string) => void;
  autoFocus?: boolean;
}

/** A new password and its confirmation, as the set-up and invite pages ask for them. */
export function NewPasswordFields({ idPrefix, password, confirm, onPassword, onConfirm, autoFocus }: Props) {
  return (
    <>
      <div className="field">
        <label htmlFor={`${idPrefix}-password`}>Password</label>
        <input
          id={`${idPrefix}-password`}
          type="password"
          autoComplete="new-password"
          required
          minLength={MIN_PASSWORD}
          value={password}
          onChange={(e) => onPassword(e.target.value)}
          autoFocus={autoFocus}
          aria-describedby={`${idPrefix}-pw-hint`}
        />
        <span id={`${idPrefix}-pw-hint`} className="muted small">
          At least {MIN_PASSWORD} characters.
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-confirm`}>Confirm password</label>
        <input
          id={`${idPrefix}-confirm`}
          type="password"
          autoComplete="new-password"
          required
          value={confirm}
          onChange={(e) => onConfirm(e.target.value)}
        />
      </div>
    </>
  );
}
