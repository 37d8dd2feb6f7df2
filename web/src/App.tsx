import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { BrandProvider } from './admin/BrandProvider';
import { RequireStaff } from './admin/guard';
import { useAuth } from './auth/AuthContext';
import { LoginPage } from './auth/LoginPage';
import { AppLayout } from './layout/AppLayout';

// Separate chunks: the chat's first load does not carry the console, the invitation or the
// set-up page.
const AdminApp = lazy(() => import('./admin/AdminApp'));
const InvitePage = lazy(() => import('./invite/InvitePage'));
const SetupPage = lazy(() => import('./setup/SetupPage'));

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/invite"
        element={
          <Suspense fallback={<Splash />}>
            <InvitePage />
          </Suspense>
        }
      />
      <Route
        path="/setup"
        element={
          <Suspense fallback={<Splash />}>
            <SetupPage />
          </Suspense>
        }
      />
      <Route path="/*" element={<RequireAuth />} />
    </Routes>
  );
}

function Splash() {
  return (
    <div className="splash" role="status">
      <span className="brand-mark" aria-hidden="true">P</span> Loading…
    </div>
  );
}

function RequireAuth() {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') return <Splash />;
  if (state.status === 'signedOut') return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return (
    <BrandProvider>
      <Routes>
        <Route
          path="/admin/*"
          element={
            <RequireStaff>
              <Suspense fallback={<Splash />}>
                <AdminApp />
              </Suspense>
            </RequireStaff>
          }
        />
        <Route path="*" element={<AppLayout />} />
      </Routes>
    </BrandProvider>
  );
}
