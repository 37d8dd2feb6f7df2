import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useParams } from 'react-router-dom';
import { api } from '../api';
import type { Artifact, Collection, Conversation, ModelInfo, ToolInfo, UploadedFile } from '../api/types';
import { ArtifactPanel } from '../artifacts/ArtifactPanel';
import { ErrorBoundary } from '../ui/ErrorBoundary';
import { saveBlob } from '../ui/download';
import { useToast } from '../ui/toast';
import { lastPicked, loadCollectionChoice, saveCollectionChoice, stillReadable } from './collections';
import { Composer } from './Composer';
import { MessageList } from './MessageList';
import { withStoredArtifacts, type DisplayMessage } from './stream';
import { loadToolChoice, saveToolChoice } from './tools';
import { useChat } from './useChat';

let catalog: Promise<[ModelInfo[], ToolInfo[]]> | null = null;
function loadCatalog() {
  catalog ??= Promise.all([api.models(), api.tools()]).catch((e) => {
    catalog = null;
    throw e;
  });
  return catalog;
}

export function ChatView({ onActivity }: { onActivity: () => void }) {
  const { id = '' } = useParams();
  return <Chat key={id} id={id} onActivity={onActivity} />;
}

function Chat({ id, onActivity }: { id: string; onActivity: () => void }) {
  const chat = useChat(id);
  const toast = useToast();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [tools, setTools] = useState<ToolInfo[]>([]);
  const [model, setModel] = useState('');
  // The tools chosen here last time (a new chat starts with none).
  const [toolsAllowed, setToolsAllowed] = useState<string[]>(() => loadToolChoice(id) ?? []);
  const chooseTools = useCallback(
    (names: string[]) => {
      setToolsAllowed(names);
      saveToolChoice(id, names);
    },
    [id],
  );
  // The collections picked here last time (else those the newest question was answered
  // from, once the branch is loaded); they stay picked until changed.
  const [collections, setCollections] = useState<Collection[] | null>(null);
  const stored = useRef(loadCollectionChoice(id));
  const [picked, setPicked] = useState<string[]>(() => stored.current ?? []);
  const pickCollections = useCallback(
    (ids: string[]) => {
      stored.current = ids;
      setPicked(ids);
      saveCollectionChoice(id, ids);
    },
    [id],
  );
  const loadCollections = useCallback(() => {
    api.collections().then(setCollections, () => undefined);
  }, []);
  useEffect(loadCollections, [loadCollections]);
  const { loaded, messages: shown } = chat;
  useEffect(() => {
    if (!loaded || stored.current !== null) return;
    const last = lastPicked(shown);
    setPicked((cur) => (cur.join() === last.join() ? cur : last));
  }, [loaded, shown]);
  // A collection deleted, or no longer shared, would fail the send.
  const readable = useMemo(() => (collections ? stillReadable(picked, collections) : picked), [collections, picked]);
  const [artifacts, setArtifacts] = useState<Artifact[]>([]);
  const [panel, setPanel] = useState<{ open: boolean; selected: string | null }>({ open: false, selected: null });

  useEffect(() => {
    api.getConversation(id).then(setConv, (e) => toast.error(e, 'Could not open the chat'));
    loadCatalog().then(
      ([m, t]) => {
        setModels(m);
        setTools(t);
        setModel((cur) => cur || m.find((x) => x.is_default)?.name || m[0]?.name || '');
      },
      (e) => toast.error(e, 'Could not load models and tools'),
    );
  }, [id, toast]);

  // The artifact list follows the stream; a new artifact opens the panel on it.
  const artifactCount = chat.state.artifacts.length;
  useEffect(() => {
    api.artifacts(id).then(setArtifacts, () => undefined);
  }, [id, artifactCount]);
  const announced = chat.state.announced;
  useEffect(() => {
    if (announced) setPanel({ open: true, selected: announced.artifactId });
  }, [announced]);

  const { send } = chat;
  const sendWith = useCallback(
    async (content: string, parentId: string | null, attachments?: UploadedFile[]) => {
      const picks = readable.map((c) => ({ id: c, name: collections?.find((x) => x.id === c)?.name ?? '' }));
      const ok = await send(content, { parentId, model: model || undefined, toolsAllowed, attachments, collections: picks });
      if (ok && conv && (conv.title === 'New chat' || !conv.title)) {
        const title =
          content.split('\n')[0]!.replace(/\[\[.*?\]\]/g, '').replace(/[*_`#>]+/g, '').trim().slice(0, 60) || 'Chat';
        api.updateConversation(id, { title }).then((c) => {
          setConv(c);
          onActivity();
        }, () => undefined);
      } else if (ok) onActivity();
      return ok;
    },
    [send, model, toolsAllowed, readable, collections, conv, id, onActivity],
  );

  const messages = useMemo(() => withStoredArtifacts(chat.messages, artifacts), [chat.messages, artifacts]);
  const lastId = chat.messages.at(-1)?.id ?? null;
  const onEdit = useCallback((m: DisplayMessage, content: string) => void sendWith(content, m.parent_id), [sendWith]);
  const { regenerate } = chat;
  const onRegenerate = useCallback(
    (m: DisplayMessage) => {
      // A sibling of this answer, to the same question.
      if (m.parent_id) void regenerate(m.parent_id, { model: model || undefined, toolsAllowed }).then((ok) => ok && onActivity());
    },
    [regenerate, model, toolsAllowed, onActivity],
  );
  const { switchBranch, loadOlder } = chat;
  const onLoadOlder = useCallback(() => void loadOlder(), [loadOlder]);
  const onSwitch = useCallback((m: DisplayMessage, index: number) => void switchBranch(m, index), [switchBranch]);
  const openArtifact = useCallback((artifactId: string) => setPanel({ open: true, selected: artifactId }), []);

  const exportAs = async (format: 'md' | 'json') => {
    try {
      saveBlob(await api.exportBlob(id, format), `${(conv?.title || 'conversation').replace(/[^\w.-]+/g, '-')}.${format}`);
    } catch (e) {
      toast.error(e, 'Export failed');
    }
  };

  return (
    <div className={`chat ${panel.open ? 'with-panel' : ''}`}>
      <section className="chat-main" aria-label="Chat">
        <div className="chat-header">
          <h2 className="chat-title" title={conv?.title}>
            {conv?.title ?? '…'}
          </h2>
          <div className="chat-header-actions">
            <details className="menu">
              <summary className="btn-ghost btn-small">Export</summary>
              <div className="menu-list" role="group" aria-label="Export">
                <button type="button" className="btn-ghost btn-small" onClick={(e) => {
                    e.currentTarget.closest('details')?.removeAttribute('open');
                    void exportAs('md');
                  }}>
                  Markdown (this branch)
                </button>
                <button type="button" className="btn-ghost btn-small" onClick={(e) => {
                    e.currentTarget.closest('details')?.removeAttribute('open');
                    void exportAs('json');
                  }}>
                  JSON (all branches)
                </button>
              </div>
            </details>
            <button
              type="button"
              className="btn-ghost btn-small"
              aria-pressed={panel.open}
              onClick={() => setPanel((p) => ({ ...p, open: !p.open }))}
            >
              Artifacts{artifacts.length ? ` (${artifacts.length})` : ''}
            </button>
          </div>
        </div>
        {chat.connection === 'offline' && (
          <div className="banner" role="status">
            Offline — reconnecting…
          </div>
        )}
        {chat.loaded && chat.messages.length === 0 ? (
          <div className="empty-chat">
            <p className="muted">Ask anything. Turn on a tool below to let the model run Python or make artifacts.</p>
          </div>
        ) : (
          <MessageList
            messages={messages}
            hasOlder={chat.hasOlder}
            loadingOlder={chat.loadingOlder}
            onLoadOlder={onLoadOlder}
            busy={chat.running}
            onEdit={onEdit}
            onRegenerate={onRegenerate}
            onSwitch={onSwitch}
            onOpenArtifact={openArtifact}
          />
        )}
        <Composer
          disabled={chat.connection !== 'open' || chat.state.branch.some((m) => m.local)}
          running={chat.running}
          models={models}
          model={model}
          onModel={setModel}
          tools={tools}
          toolsAllowed={toolsAllowed}
          onToolsAllowed={chooseTools}
          collections={collections ?? []}
          collectionsPicked={readable}
          onCollectionsPicked={pickCollections}
          onCollectionsOpen={loadCollections}
          onSend={(content, attachments) => sendWith(content, lastId, attachments)}
          onStop={() => void chat.cancel()}
        />
      </section>
      {panel.open && (
        <ErrorBoundary
          fallback={(e, reset) => (
            <aside className="panel" role="alert">
              <p>The artifact could not be shown: {e.message}</p>
              <button type="button" className="btn" onClick={reset}>
                Retry
              </button>
            </aside>
          )}
        >
          <ArtifactPanel
            artifacts={artifacts}
            selected={panel.selected ?? artifacts.at(-1)?.id ?? null}
            onSelect={(sel) => setPanel({ open: true, selected: sel })}
            onClose={() => setPanel((p) => ({ ...p, open: false }))}
          />
        </ErrorBoundary>
      )}
    </div>
  );
}
