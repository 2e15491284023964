// The console's routes. Everything but the login page needs a session; the shell page is full screen and
// loaded on demand (it brings xterm.js).
import { Center, Loader } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router';
import { AppLayout } from './components/AppLayout.js';
import { RequireAuth } from './components/RequireAuth.js';
import { ProjectProvider } from './lib/project.js';
import { AuditPage } from './pages/audit/AuditPage.js';
import { ClustersPage } from './pages/clusters/ClustersPage.js';
import { HomePage } from './pages/HomePage.js';
import { LoginPage } from './pages/LoginPage.js';
import { NotFoundPage } from './pages/NotFoundPage.js';
import { ProjectsPage } from './pages/ProjectsPage.js';
import { SettingsPage } from './pages/SettingsPage.js';
import { UsersPage } from './pages/users/UsersPage.js';

const ShellPage = lazy(() => import('./pages/shell/ShellPage.js').then((m) => ({ default: m.ShellPage })));

const loading = (
  <Center h="100vh">
    <Loader />
  </Center>
);

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/shell/:cluster"
        element={
          <RequireAuth>
            <Suspense fallback={loading}>
              <ShellPage />
            </Suspense>
          </RequireAuth>
        }
      />
      <Route
        element={
          <RequireAuth>
            <ProjectProvider>
              <AppLayout />
            </ProjectProvider>
          </RequireAuth>
        }
      >
        <Route index element={<HomePage />} />
        <Route path="clusters" element={<ClustersPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route path="users" element={<UsersPage />} />
        <Route path="projects" element={<ProjectsPage />} />
        <Route path="settings" element={<SettingsPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
