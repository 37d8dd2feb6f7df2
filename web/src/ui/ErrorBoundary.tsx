import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
  /** Shown instead of the full-page message (e.g. inside the artifact panel). */
  fallback?: (error: Error, reset: () => void) => ReactNode;
}

/** Catches render errors so a failure never leaves a blank screen. */
export class ErrorBoundary extends Component<Props, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('render error', error, info.componentStack);
  }

  reset = () => this.setState({ error: null });

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    if (this.props.fallback) return this.props.fallback(error, this.reset);
    return (
      <div className="fatal" role="alert">
        <h1>Something went wrong</h1>
        <p>{error.message}</p>
        <div className="row">
          <button type="button" className="btn" onClick={this.reset}>
            Try again
          </button>
          <button type="button" className="btn-ghost" onClick={() => window.location.reload()}>
            Reload the page
          </button>
        </div>
      </div>
    );
  }
}
