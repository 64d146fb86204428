/**
 * Shoal's embedding API: createBroker, its configuration, the plugin API,
 * and the types a host application sees. Main thread.
 */
export { Broker, createBroker, type BrokerAddresses, type BrokerStats, type PublishOptions } from './broker.js';
export type { CloseOptions, DisconnectClientOptions } from './server-disconnect.js';
export { defaultConfig, resolveConfig, type BrokerConfig, type LogLevel, type SharedSubscriptionStrategy } from './config.js';
export type { AppMessage, MessageProperties, QoS } from './app-message.js';
export { ReasonCode } from './codec/reason-codes.js';
export type {
  AuthData, AuthModifiers, ChainResult, DeliverModifiers, DropReason, DroppedMessage, HookName, Hooks, M5Error, Peer, Plugin, PluginContext,
  PluginFactory, PluginSpec, PublishModifiers, RegisterModifiers, SubscribeModifiers, SubscribeTopic, SubscriberId,
} from './hooks/types.js';
