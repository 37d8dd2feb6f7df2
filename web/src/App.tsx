import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth } from './auth/AuthContext';
import { LoginPage } from './auth/LoginPage';
import { AppLayout } from './layout/AppLayout';

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/*" element={<RequireAuth />} />
    </Routes>
  );
}

function RequireAuth() {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') {
    return (
      <div className="splash" role="status">
        <span className="brand-mark" aria-hidden="true">P</span> Loading…
      </div>
    );
  }
  if (state.status === 'signedOut') return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <AppLayout />;
}
