import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('VAR Studio: #app element missing from index.html');
mount(App, { target });
