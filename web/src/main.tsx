/**
 * The dashboard's entry: a hash router over the run list and the pages of one run.
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import './pages.css';

import { Component, render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { RunList } from './pages/run-list.tsx';
import { RunPage, type RunTab } from './pages/run-page.tsx';

const tabs: RunTab[] = ['metrics', 'samples', 'preferences', 'audits', 'compare'];

interface Route {
  run?: string;
  tab: RunTab;
  /** Extra path segment, e.g. the sample index. */
  item?: string;
}

/** `#/runs/<name>/<tab>/<item>` → route. */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'runs' || !parts[1]) return { tab: 'metrics' };
  const tab = tabs.includes(parts[2] as RunTab) ? (parts[2] as RunTab) : 'metrics';
  return { run: parts[1], tab, item: parts[3] };
}

/** Shows a failed page's error instead of a blank screen; a new route clears it. */
class ErrorBoundary extends Component<
  { children: ComponentChildren; route: string },
  { error?: Error }
> {
  override state: { error?: Error } = {};

  static override getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(previous: { route: string }) {
    if (previous.route !== this.props.route && this.state.error)
      this.setState({ error: undefined });
  }

  render() {
    return this.state.error ? (
      <p class="error">This page failed: {this.state.error.message}</p>
    ) : (
      this.props.children
    );
  }
}

function App() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);

  return (
    <>
      <header class="topbar">
        <a class="brand" href="#/">
          rlaif <span>dashboard</span>
        </a>
        {route.run && (
          <nav class="crumbs">
            <a href="#/">runs</a> / <strong>{route.run}</strong>
          </nav>
        )}
      </header>
      <main class="page">
        <ErrorBoundary route={`${route.run}/${route.tab}/${route.item}`}>
          {route.run ? (
            <RunPage key={route.run} run={route.run} tab={route.tab} item={route.item} />
          ) : (
            <RunList />
          )}
        </ErrorBoundary>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
