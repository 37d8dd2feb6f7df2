/** The large PENNY mark at the top of the sign-in, set-up and invite cards. */
export function BrandLarge() {
  return (
    <div className="brand brand-large">
      <span className="brand-mark" aria-hidden="true">
        P
      </span>{' '}
      PENNY
    </div>
  );
}
