import { useEffect, useRef, type ReactNode } from 'react';
import { Navigate } from 'react-router-dom';
import type { Me, Role } from '../api/types';
import { useMe } from '../auth/AuthContext';
import { useToast } from '../ui/toast';

/** Admins and managers run the console; the others use the chat only. */
export function isStaff(role: Role | string): boolean {
  return role === 'admin' || role === 'manager';
}

export function isAdmin(me: Pick<Me, 'role'>): boolean {
  return me.role === 'admin';
}

export function isSuperAdmin(me: Pick<Me, 'is_super_admin'>): boolean {
  return me.is_super_admin === true;
}

/** Renders the console for staff; anyone else goes back to the chat with a notice. */
export function RequireStaff({ children }: { children: ReactNode }) {
  const me = useMe();
  const toast = useToast();
  const allowed = isStaff(me.role);
  const told = useRef(false);
  useEffect(() => {
    if (allowed || told.current) return;
    told.current = true;
    toast.push({ kind: 'error', title: 'Admin console unavailable', detail: 'Only admins and managers can open the admin console.' });
  }, [allowed, toast]);
  if (!allowed) return <Navigate to="/" replace />;
  return <>{children}</>;
}
